// The envelope every 공공데이터포털 (data.go.kr) API answers in, shared by the KMA and AirKorea clients:
// `{ response: { header: { resultCode, resultMsg }, body } }` with resultCode '00' for success. The
// portal's gateway refuses a call before it reaches the service (unregistered or unapproved key,
// quota, a service that is down) with an XML `<OpenAPI_ServiceResponse>` and HTTP 200, and its
// outages sometimes answer an HTML page, also with 200: both become typed ProviderCallErrors here,
// so no caller mistakes an error page for data.
import { fetchOnce, ProviderCallError, withRetries } from '../http.ts';

export type DataGoKrCall = { service: string; timeoutMs: number; retries: number; baseDelayMs?: number };

// Result codes of the service itself (header.resultCode) worth another try: application, database,
// HTTP errors and the service's own timeout. The rest (no data, bad parameters, key problems, quota)
// answer the same on a retry.
const RETRYABLE_RESULT_CODES = new Set(['01', '02', '04', '05']);
// The gateway's returnReasonCode in its XML refusal: 01 application error, 04 HTTP error, 05
// service timeout; 12 (no such service), 20-33 (access denied, quota, key) are not worth a retry.
const RETRYABLE_REASON_CODES = new Set(['01', '04', '05']);

// Portal keys come as an "Encoding" and a "Decoding" form; either works here (URLSearchParams
// encodes, so an already encoded key is decoded first rather than encoded twice).
export function decodeServiceKey(key: string): string {
  if (!key.includes('%')) return key;
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

function xmlTag(text: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>\\s*([^<]*?)\\s*</${tag}>`).exec(text)?.[1];
}

// GET `url` and answer the envelope's body; every failure is a ProviderCallError of `service`.
export async function getDataGoKr(url: string, call: DataGoKrCall): Promise<unknown> {
  const { service, timeoutMs } = call;
  return withRetries({ retries: call.retries, baseDelayMs: call.baseDelayMs ?? 300, maxDelayMs: 5000 }, async () => {
    const res = await fetchOnce(url, { service, timeoutMs, headers: { accept: 'application/json' } });
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      throw new ProviderCallError(service, `http_${res.status}`, `HTTP ${res.status}`, { status: res.status, retryable: res.status === 429 || res.status >= 500 });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (json === undefined) {
      // The gateway's XML refusal (HTTP 200), e.g. SERVICE_KEY_IS_NOT_REGISTERED_ERROR.
      if (text.includes('<OpenAPI_ServiceResponse>') || text.includes('<cmmMsgHeader>')) {
        const reason = xmlTag(text, 'returnReasonCode') ?? '';
        const auth = xmlTag(text, 'returnAuthMsg') ?? xmlTag(text, 'errMsg') ?? 'SERVICE_ERROR';
        throw new ProviderCallError(service, auth, `gateway refused: ${auth}${reason ? ` (${reason})` : ''}`, { status: res.status, retryable: RETRYABLE_REASON_CODES.has(reason) });
      }
      // An XML answer of the service (a `<response><header>` with an error code) or an HTML page.
      const resultCode = xmlTag(text, 'resultCode');
      if (resultCode) {
        const msg = xmlTag(text, 'resultMsg') ?? '';
        throw new ProviderCallError(service, `result_${resultCode}`, `result ${resultCode} ${msg}`.trim(), { status: res.status, retryable: RETRYABLE_RESULT_CODES.has(resultCode) });
      }
      throw new ProviderCallError(service, 'invalid_response', 'answered something other than JSON', { status: res.status, retryable: true });
    }
    const response = (json as { response?: { header?: { resultCode?: unknown; resultMsg?: unknown }; body?: unknown } }).response;
    const code = response?.header?.resultCode;
    if (typeof code !== 'string') throw new ProviderCallError(service, 'invalid_response', 'answered JSON without response.header.resultCode', { status: res.status, retryable: false });
    if (code !== '00') {
      const msg = typeof response?.header?.resultMsg === 'string' ? response.header.resultMsg : '';
      throw new ProviderCallError(service, `result_${code}`, `result ${code} ${msg}`.trim(), { status: res.status, retryable: RETRYABLE_RESULT_CODES.has(code) });
    }
    return response?.body;
  });
}
