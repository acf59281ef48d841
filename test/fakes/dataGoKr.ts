// What the 공공데이터포털 gateway answers in front of every service (KMA, AirKorea), for their fakes:
// the XML refusal it sends with HTTP 200 for a key it does not know, and the HTML page of an outage.
import type { FakeReply } from './http.ts';

export type DataGoKrMode = 'up' | 'down' | 'html' | 'quota' | 'slow';

export function gatewayRefusal(authMsg: string, reasonCode: string): FakeReply {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
    raw: `<OpenAPI_ServiceResponse>
	<cmmMsgHeader>
		<errMsg>SERVICE ERROR</errMsg>
		<returnAuthMsg>${authMsg}</returnAuthMsg>
		<returnReasonCode>${reasonCode}</returnReasonCode>
	</cmmMsgHeader>
</OpenAPI_ServiceResponse>`,
  };
}

// The gateway's reply for a mode other than 'up', or undefined to let the service answer.
export async function gatewayReply(mode: DataGoKrMode, serviceKey: string | null, knownKey: string, slowMs: number): Promise<FakeReply | undefined> {
  if (mode === 'slow') await new Promise((r) => setTimeout(r, slowMs));
  if (mode === 'down') return { status: 503, headers: { 'content-type': 'text/html' }, raw: '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>' };
  // An outage page served with 200 by a proxy in front of the portal.
  if (mode === 'html') return { status: 200, headers: { 'content-type': 'text/html' }, raw: '<!DOCTYPE html><html><head><title>공공데이터포털</title></head><body>서비스 점검 중입니다</body></html>' };
  if (mode === 'quota') return gatewayRefusal('LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR', '22');
  if (serviceKey !== knownKey) return gatewayRefusal('SERVICE_KEY_IS_NOT_REGISTERED_ERROR', '30');
  return undefined;
}

export const envelope = (resultCode: string, resultMsg: string, body?: unknown) => ({ response: { header: { resultCode, resultMsg }, ...(body === undefined ? {} : { body }) } });
