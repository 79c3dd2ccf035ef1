// What triage needs on the host, from the ISA table: the qemu-system packages and firmware,
// cpio for the initramfs, and the pinned kernels. Doctor lists it; setup --system installs it.
import { type Isa, runsNatively, systemEmulation } from '../isa.ts';
import { findOnPath } from '../host/probe.ts';
import { kernelStatus } from './kernels.ts';

/** Tools every boot needs, whatever the ISA (dpkg-deb unpacks the kernels; it comes with dpkg). */
const SYSTEM_TOOLS = ['cpio', 'xz-utils'];

/** The ISAs triage would boot: emulated here, with a kernel in Debian. */
export function systemIsas(isas: readonly Isa[], hostMachine: string): Isa[] {
  return isas.filter((isa) => !runsNatively(isa, hostMachine) && systemEmulation(isa));
}

export function systemPackages(isas: readonly Isa[], hostMachine: string): string[] {
  return [...new Set([...SYSTEM_TOOLS, ...systemIsas(isas, hostMachine).flatMap((isa) => systemEmulation(isa)!.packages)])].sort();
}

export interface SystemRow {
  check: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

/** Per emulated ISA: its qemu-system and its kernel, or that Debian has none. Optional rows. */
export async function systemRows(isas: readonly Isa[], hostMachine: string, cacheDir?: string): Promise<SystemRow[]> {
  const rows: SystemRow[] = [];
  for (const isa of isas.filter((i) => !runsNatively(i, hostMachine))) {
    const system = systemEmulation(isa);
    const fix = `harness setup --system --arch ${isa.name}`;
    if (!system) {
      rows.push({ check: `triage ${isa.name}`, ok: false, detail: 'no kernel: Debian has none for this ISA that boots under qemu-system; triage reports its failures as not triaged' });
      continue;
    }
    const binary = await findOnPath(system.qemuSystem);
    const kernel = await kernelStatus(isa, cacheDir);
    const kernelText = kernel.state === 'none' ? kernel.reason : `Linux ${kernel.kernel.release} (${kernel.kernel.package} ${kernel.kernel.version}, ${kernel.kernel.suite})`;
    const ok = Boolean(binary) && kernel.state === 'present';
    const missing = [...(binary ? [] : [`${system.qemuSystem} missing`]), ...(kernel.state === 'present' ? [] : ['kernel not fetched'])];
    rows.push({
      check: `triage ${isa.name}`,
      ok,
      detail: ok ? `${system.qemuSystem} -M ${system.machine.split(',')[0]}, ${kernelText} at ${kernel.state === 'present' ? kernel.path : ''}` : `${missing.join(', ')}: ${kernelText}`,
      ...(ok ? {} : { fix }),
    });
  }
  return rows;
}
