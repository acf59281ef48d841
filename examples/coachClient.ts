// Ask the coach over Socket.IO and get the whole answer, across reconnects.
// Listeners go on before `ask` is emitted: a cached answer's events can arrive before the ack that
// names its answerId, so events are held until the ack says which answer is ours.
import type { Socket } from 'socket.io-client';

export type Ask = { question: string; game: string; category?: string; tags?: string[] };
type Delta = { answerId: string; offset: number; text: string };
type Done = { answerId: string; length: number; cached: boolean; [field: string]: unknown };
type Failure = { answerId: string; code: string; message: string; offset: number };

export function askCoach(coach: Socket, ask: Ask, onText?: (text: string) => void): Promise<Done & { text: string }> {
  return new Promise((resolve, reject) => {
    let answerId: string | undefined;
    let text = '';
    let settled = false;
    let resuming = false;
    const early: [string, any][] = []; // events that arrived before the ack

    const finish = (error: Error | null, done?: Done) => {
      if (settled) return;
      settled = true;
      for (const [event, listener] of listeners) coach.off(event, listener);
      for (const event of ['connect', 'resync']) coach.off(event, onReconnect);
      if (error) reject(error);
      else resolve({ ...done!, text });
    };
    // The rest of the answer from what we hold: after a reconnect (to any node), or a gap. One at a
    // time: every delta after a gap is beyond what we hold, and each would ask again.
    const resume = () => {
      if (resuming) return;
      resuming = true;
      coach.emitWithAck('answer.resume', { answerId, offset: text.length }).then(
        (ack) => {
          resuming = false;
          if (!ack.ok) finish(Object.assign(new Error(ack.error.message), { code: ack.error.code }));
        },
        () => (resuming = false), // disconnected again: the reconnect resumes
      );
    };
    const handle = (event: string, p: any) => {
      if (settled || p.answerId !== answerId) return; // another answer of this user (another tab)
      if (event === 'answer.delta') {
        const delta = p as Delta;
        if (delta.offset > text.length) return resume(); // we missed a piece
        const fresh = delta.text.slice(text.length - delta.offset); // a resume may resend what we hold
        text += fresh;
        if (fresh) onText?.(fresh);
      } else if (event === 'answer.done') {
        if (text.length < (p as Done).length) return resume(); // answer.done can arrive twice; only a complete text ends it
        finish(null, p as Done);
      } else {
        const f = p as Failure;
        finish(Object.assign(new Error(f.message), { code: f.code, answerId, text }));
      }
    };
    const listeners = ['answer.delta', 'answer.done', 'answer.error'].map(
      (event) => [event, (p: any) => (answerId ? handle(event, p) : early.push([event, p]))] as const,
    );
    const onReconnect = () => answerId && resume();

    for (const [event, listener] of listeners) coach.on(event, listener);
    // `resync`: the server's link to the other nodes was down, and events may have been lost.
    for (const event of ['connect', 'resync']) coach.on(event, onReconnect);
    coach.emitWithAck('ask', ask).then(
      (ack) => {
        if (!ack.ok) return finish(Object.assign(new Error(ack.error.message), { code: ack.error.code }));
        answerId = ack.answerId as string;
        for (const [event, p] of early.splice(0)) handle(event, p);
      },
      (err: Error) => finish(err), // the connection dropped before the ack: ask again
    );
  });
}
