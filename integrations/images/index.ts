// Image generation from an uploaded photo (Find My Rizz: three images, one prompt, three seeds). The
// rizz service calls generate() once per seed and forget() for every prediction when a job's data is
// purged; a driver only talks to its provider.
//   replicate.ts  the real client: Replicate's HTTP API (create prediction, poll, download, cancel)
//   offline.ts    development only: three deterministic sharp variants of the upload, marked offline

export type ImageGenerationRequest = {
  prompt: string;
  // The input photo (JPEG, PNG or WebP bytes), already validated and re-encoded by the worker.
  image: Uint8Array;
  // The model's seed: the same prompt, image and seed give the same image where the model is
  // deterministic (always, offline).
  seed: number;
  // Ends a generation at once: polling stops, a running prediction is canceled, the call rejects.
  signal?: AbortSignal;
};

export type ImageGenerationResult = {
  // The generated images' bytes, downloaded; a model may return several for one prediction.
  images: Uint8Array[];
  // MIME types of `images`, in order, as served by the provider (image/png, image/jpeg, image/webp).
  contentTypes: string[];
  // The provider's id for this run (what forget() takes); offline: `offline-<hash>`.
  predictionId: string;
  provider: 'replicate' | 'offline';
  offline: boolean;
};

// What forget() found: 'canceled' (it was still running and is stopped), 'finished' (it had already
// ended: the provider removes an API prediction's input, output and logs on its own — Replicate after
// one hour — and offers no API to delete one sooner), 'not_found' (unknown or already gone),
// 'none' (offline: nothing was ever stored elsewhere).
export type ForgetResult = { predictionId: string; outcome: 'canceled' | 'finished' | 'not_found' | 'none' };

export type ImageGenerator = {
  provider: 'replicate' | 'offline';
  offline: boolean;
  generate: (request: ImageGenerationRequest) => Promise<ImageGenerationResult>;
  // Deletes or cancels the provider's copy of one prediction where its API allows; idempotent.
  forget: (predictionId: string) => Promise<ForgetResult>;
};
