// A walk's share card: POST /walks/:id/share-card draws (once per version) and stores a picture of
// one of my trusted walks showing only what others may see of it, and answers an expiring URL.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { shareCardDto, type ShareCardService } from '../../services/walk/shareCards.ts';

const idParams = z.object({ id: z.uuid() });

export function shareCardRoutes(api: Api, deps: { shareCards: ShareCardService }): void {
  api.route({
    method: 'post', path: '/walks/:id/share-card', tags: ['walk'], auth: 'user', params: idParams,
    summary: 'A 1080×1080 PNG of my walk to share: the route as others see it (cut at my home zones), distance, duration, date and my pet\'s photo. Drawn once per version and reused',
    responses: {
      201: { description: 'The card, drawn now', schema: shareCardDto },
      200: { description: 'The card of this version, drawn before: a fresh URL to the stored picture', schema: shareCardDto },
      404: { description: 'No such walk of mine' },
      409: { description: 'walk_not_trusted: a flagged walk is not shown to others, so it has no card' },
    },
    handler: async ({ auth, params }) => {
      const { card, created } = await deps.shareCards.cardFor(auth.userId, params.id);
      return { status: created ? 201 : 200, body: card };
    },
  });
}
