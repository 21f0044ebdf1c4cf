// The lab as a standalone Pulumi program (lab-stack/Pulumi.yaml). Pulumi calls an exported
// function and takes what it returns as the stack outputs, so importing this file creates
// nothing; other programs compose the lab through ./lab (createLab, readLabConfig).
import { readLabConfig } from './stackConfig';
import { createLab, stackOutputs } from './lab';

function labProgram(): Record<string, unknown> {
  return stackOutputs(createLab(readLabConfig()));
}

export = labProgram;
