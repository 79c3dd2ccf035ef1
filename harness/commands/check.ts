// `harness check <ref>`: one image on every ISA it has, through the image, busybox and musl
// suites, with the same reports as `harness run`.
import { checkMatrix, type CheckOptions } from '../check.ts';
import { DEFAULT_MATRIX } from '../prepare.ts';
import { runCommand, type RunCommandOptions } from './run.ts';

export type CheckCommandOptions = Omit<RunCommandOptions, 'matrixPath' | 'makeMatrix'> & Omit<CheckOptions, 'baseMatrix' | 'signal' | 'progress'>;

export async function checkCommand(ref: string, options: CheckCommandOptions): Promise<number> {
  return runCommand({
    ...options,
    makeMatrix: async (signal, progress) => {
      const { matrix, absent } = await checkMatrix(ref, { ...options, baseMatrix: DEFAULT_MATRIX, signal, progress });
      if (progress !== 'quiet') {
        const missing = absent.length ? `; not in the image: ${absent.map((entry) => entry.isa).join(', ')}` : '';
        console.error(`harness check ${ref}: ${matrix.isas.map((isa) => isa.name).join(', ')}${missing}`);
      }
      return matrix;
    },
  });
}
