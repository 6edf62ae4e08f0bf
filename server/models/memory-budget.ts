/**
 * The memory budget: bytes all loaded local models may take together (weights plus contexts).
 * Configured (`--model-memory-mb`), or chosen from the machine once the engine has started: most
 * of the RAM (the OS and the app need the rest), plus most of the VRAM when there is a GPU.
 * The model manager (manager.ts) evicts under it; this module only says how big it is and what
 * can never fit.
 */
import os from "node:os";
import type { MemoryEstimate } from "../engine/gguf-info.js";
import type { EngineRuntime } from "../engine/runtime.js";
import { HearthError } from "../errors.js";

/** The budget's own error: what the model needs does not fit, even with everything else unloaded. */
export class InsufficientMemoryError extends HearthError {
  constructor(message: string) {
    super(503, "server_error", message, { code: "insufficient_memory" });
  }
}

const mib = (n: number) => `${Math.ceil(n / 1024 ** 2)} MiB`;

export class MemoryBudget {
  private resolved: number | null = null;

  /** `configuredBytes` 0 chooses from the machine. */
  constructor(private readonly configuredBytes: number) {}

  /** True when the budget was configured rather than chosen. */
  get explicit(): boolean {
    return this.configuredBytes > 0;
  }

  /**
   * The budget in bytes. Before the engine started, the automatic budget counts RAM only (VRAM is
   * measured when the engine starts).
   */
  current(): number {
    return this.resolved ?? (this.explicit ? this.configuredBytes : Math.floor(os.totalmem() * 0.7));
  }

  /** The budget with the engine's VRAM counted; measured once. */
  async resolve(runtime: EngineRuntime): Promise<number> {
    if (this.resolved !== null) return this.resolved;
    if (this.explicit) this.resolved = this.configuredBytes;
    else {
      const vram = runtime.gpu === false ? 0 : (await runtime.llama.getVramState()).total;
      this.resolved = Math.floor(os.totalmem() * 0.7 + vram * 0.9);
    }
    return this.resolved;
  }

  /**
   * Refuses a model bigger than an explicit budget. With the automatic budget a lone model may
   * try, and llama.cpp has the last word.
   */
  assertCanFit(id: string, need: MemoryEstimate, budget: number): void {
    if (need.total > budget && this.explicit) {
      throw new InsufficientMemoryError(
        `The model '${id}' needs about ${mib(need.total)} but the memory budget is ${mib(budget)}. Raise --model-memory-mb, or lower its context size or parallel sequences.`,
      );
    }
  }
}
