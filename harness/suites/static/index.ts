// The static suite: a user's own directory of static binaries for an ISA (matrix setting
// `path`, with {arch} already replaced). Each executable file is a case: exit 0 passes.
import { constants } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestCase } from '../../case.ts';
import { HarnessError } from '../../errors.ts';
import type { Suite } from '../suite.ts';

const GUEST_DIR = '/opt/static';

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export const staticSuite: Suite = {
  name: 'static',
  description: "a directory of the user's static binaries per ISA: each runs in the image and must exit 0",
  async cases(ctx) {
    const dir = ctx.settings.path;
    if (typeof dir !== 'string') throw new HarnessError('static suite: setting path is missing: give suites.static.path in the matrix');
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => {
      throw new HarnessError(`static suite: ${dir}: cannot read the directory of static binaries for ${ctx.isa.name}`);
    });
    const files = entries.filter((entry) => entry.isFile()).map((entry) => entry.name).sort();
    const cases: TestCase[] = [];
    for (const name of files) {
      const host = join(dir, name);
      if (!(await isExecutable(host))) continue;
      cases.push({
        name,
        suite: 'static',
        argv: [`${GUEST_DIR}/${name}`],
        hostFiles: { [`${GUEST_DIR}/${name}`]: host },
        expect: { exitCode: 0 },
        attachOutput: true,
      });
    }
    return cases;
  },
};
