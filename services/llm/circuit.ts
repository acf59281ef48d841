// A circuit breaker per model. After `failureThreshold` consecutive retryable failures the model
// is skipped for `cooldownMs` (calls go to the fallback model, or fail fast without one); then a
// single probe call is let through, and its outcome closes or re-opens the circuit.
//
// Hand-written, not cockatiel's circuitBreaker + ConsecutiveBreaker (4.0.0), which cannot keep
// three things the gateway relies on (bench/retry.ts shows cost is not the reason: both are well
// under a microsecond per call):
// - neutral outcomes: in half-open, cockatiel counts any error its policy does not handle as a
//   success and closes the circuit, so a probe the user cancelled, or a 400, would send all
//   traffic back to a model that just failed N times. Here neutral() frees the probe and the next
//   call probes again.
// - skipping during the probe: cockatiel parks every other call until the probe settles (a
//   streamed probe takes seconds); here they go to the fallback at once.
// - the clock: cockatiel reads Date.now() itself; the cool-down here runs on an injected `now`.
export type CircuitState = 'closed' | 'open' | 'half-open';

export type Circuit = {
  // May this call use the model? Claims the probe when the cool-down has passed.
  allow: () => boolean;
  success: () => void;
  failure: () => void;
  // The call ended without saying anything about the model's health (aborted, bad input).
  neutral: () => void;
  state: () => CircuitState;
};

export function createCircuit(opts: { failureThreshold: number; cooldownMs: number; now?: () => number; onOpen?: () => void }): Circuit {
  const now = opts.now ?? Date.now;
  let failures = 0;
  let openUntil = 0;
  let probing = false;

  const open = () => {
    openUntil = now() + opts.cooldownMs;
    probing = false;
    opts.onOpen?.();
  };

  return {
    allow() {
      if (openUntil === 0) return true;
      if (now() < openUntil || probing) return false;
      probing = true;
      return true;
    },
    success() {
      failures = 0;
      openUntil = 0;
      probing = false;
    },
    failure() {
      failures++;
      if (probing || (openUntil === 0 && failures >= opts.failureThreshold)) open();
    },
    neutral() {
      probing = false;
    },
    state() {
      if (openUntil === 0) return 'closed';
      return now() < openUntil ? 'open' : 'half-open';
    },
  };
}
