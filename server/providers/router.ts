/**
 * Routes a request to the provider that serves its model. Local models answer first, then remote
 * providers (issue #5), whose model ids are `<provider-id>/<model>`.
 */
import { ModelNotFoundError } from "../errors.js";
import { assertSafeModelName } from "../models/names.js";
import type {
  EmbeddingRequest,
  EmbeddingResult,
  GenerationRequest,
  GenerationStream,
  ModelInfo,
  Provider,
} from "../core/types.js";

export class ProviderRouter {
  private readonly providers: Provider[] = [];

  add(provider: Provider): void {
    this.providers.push(provider);
  }

  remove(id: string): void {
    const i = this.providers.findIndex((p) => p.id === id);
    if (i >= 0) this.providers.splice(i, 1);
  }

  list(): readonly Provider[] {
    return this.providers;
  }

  /** Every provider's models; a provider that fails to answer is left out, never fails the list. */
  async listModels(): Promise<ModelInfo[]> {
    const lists = await Promise.allSettled(this.providers.map((p) => p.listModels()));
    return lists.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
  }

  async resolve(model: string): Promise<Provider> {
    assertSafeModelName(model);
    for (const provider of this.providers) {
      if (await provider.hasModel(model).catch(() => false)) return provider;
    }
    throw new ModelNotFoundError(
      model,
      (await this.listModels()).map((m) => m.id),
    );
  }

  async generate(
    request: GenerationRequest,
    signal: AbortSignal,
  ): Promise<{ provider: Provider; stream: GenerationStream }> {
    const provider = await this.resolve(request.model);
    return { provider, stream: await provider.generate(request, signal) };
  }

  async embed(request: EmbeddingRequest, signal: AbortSignal): Promise<EmbeddingResult> {
    return (await this.resolve(request.model)).embed(request, signal);
  }
}
