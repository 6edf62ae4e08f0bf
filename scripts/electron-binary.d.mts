export interface ElectronBinaryLookup {
  /** Absolute path of the Electron executable, or null when there is none. */
  bin: string | null;
  /** Where it came from, or why there is none (for a skip message). */
  reason: string;
}
export function findElectronBinary(env?: NodeJS.ProcessEnv, platform?: NodeJS.Platform): ElectronBinaryLookup;
export function electronBinary(env?: NodeJS.ProcessEnv): string | null;
