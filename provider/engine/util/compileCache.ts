// Imported first by a process's entry, for its side effect: Node (22.1 and later) keeps the
// bytecode it compiles of the modules loaded after this one in its compile cache, so the next
// process of the same pgferry does not compile them again. A resumed runner spent most of its
// start loading modules (docs/bench.md, issue 65). The cache is Node's own: its directory is
// NODE_COMPILE_CACHE when set, else one under the system's temporary directory, and an entry
// whose source changed is compiled anew. On Node 20, which has no such cache, nothing happens.
import nodeModule from 'node:module';

(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
