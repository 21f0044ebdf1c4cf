// Public exports: the engine API for library users (the Pulumi resource is added by provider/resource).
export * from './engine';
export * from './resource';
