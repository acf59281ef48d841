// Share cards over HTTP: a trusted walk of mine drawn in the worker pool as a 1080×1080 PNG with the
// route others may see (cut at my home zones), the numbers and my pet's photo; stored once per
// version and reused, one object when two requests race; others get 404, a flagged walk 409.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import type { ApiNode } from '../../server/node.ts';
import { PHOTO_CIRCLE, renderShareCard, SHARE_CARD_COLOURS } from '../../workers/walk/shareCard.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';
import { walk } from '../tracks.ts';

const T0 = Date.parse('2026-11-20T07:00:00+09:00');
type Rgb = [number, number, number];
const rgb = (hex: string): Rgb => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as Rgb;

describe('walk: share cards', function () {
  this.timeout(60_000);
  let node: ApiNode;
  let dir: string;
  let owner: TestUser;
  let seq = 0;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'share-cards-'));
    node = await startNode({ STORAGE_LOCAL_DIR: dir });
    owner = await newUser(node);
  });
  after(async () => {
    await stopAllNodes();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const postWalk = async (user: TestUser, opts: { seed: number; distanceM?: number; speedKmh?: number; petIds?: string[] }) => {
    const points = walk({ distanceM: opts.distanceM ?? 2500, speedKmh: opts.speedKmh ?? 5, seed: opts.seed, t0: T0 + ++seq * 3 * 3600_000 });
    const res = await request(node, 'POST', '/walks', { token: user.accessToken, body: { clientWalkId: `card-${seq}`, points, petIds: opts.petIds ?? [] } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { id: string; trusted: boolean; distanceM: number; durationS: number; localDate: string; route: { coordinates: [number, number][] } };
  };
  const askCard = (user: TestUser, walkId: string) => request(node, 'POST', `/walks/${walkId}/share-card`, { token: user.accessToken });
  // The URL names the node's public base (no port in tests): fetch its path from the node.
  const download = async (url: string) => {
    const u = new URL(url);
    const res = await fetch(`${node.url}${u.pathname}${u.search}`);
    expect(res.status).to.equal(200);
    return { contentType: res.headers.get('content-type'), bytes: Buffer.from(await res.arrayBuffer()) };
  };
  const pixels = async (png: Buffer) => {
    const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number): Rgb => {
      const i = (Math.round(y) * info.width + Math.round(x)) * 3;
      return [data[i], data[i + 1], data[i + 2]];
    };
    // How many pixels are `colour` (within a small tolerance: anti-aliased edges are left out).
    const count = (colour: Rgb, tolerance = 6) => {
      let n = 0;
      for (let i = 0; i < data.length; i += 3) {
        if (Math.abs(data[i] - colour[0]) <= tolerance && Math.abs(data[i + 1] - colour[1]) <= tolerance && Math.abs(data[i + 2] - colour[2]) <= tolerance) n++;
      }
      return n;
    };
    return { at, count, info };
  };
  const objectsOf = (walkId: string) => {
    const folder = path.join(dir, 'objects', 'walk', 'share-cards', walkId);
    return fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => f.endsWith('.bin')) : [];
  };
  const drawn = async () => (await node.ctx.metrics.registry.getSingleMetric('walk_share_cards_rendered_total')!.get()).values[0]?.value ?? 0;
  const keyOf = (url: string) => new URL(url).pathname;
  const solidPhoto = (r: number, g: number, b: number) => sharp({ create: { width: 600, height: 600, channels: 3, background: { r, g, b } } }).jpeg().toBuffer();
  const setPetPhoto = async (user: TestUser, petId: string, photo: Buffer) => {
    const res = await fetch(`${node.url}/pets/${petId}/photo`, { method: 'PUT', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'image/jpeg' }, body: new Uint8Array(photo) });
    expect(res.status).to.equal(200);
  };

  let mainWalk: { id: string };
  let mainCard: { url: string };
  let petId: string;

  it('draws a 1080×1080 PNG with the route, its markers, the numbers and the pet\'s photo, stored behind an expiring URL', async () => {
    // Two pets, the first without a photo: the card shows the one with a photo.
    const plain = (await request(node, 'POST', '/pets', { token: owner.accessToken, body: { name: 'Bori' } })).body;
    petId = (await request(node, 'POST', '/pets', { token: owner.accessToken, body: { name: 'Kongi' } })).body.id;
    await setPetPhoto(owner, petId, await solidPhoto(30, 80, 210));
    mainWalk = await postWalk(owner, { seed: 31, petIds: [plain.id, petId] });
    const before = await drawn();
    const res = await askCard(owner, mainWalk.id);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.include({ width: 1080, height: 1080 });
    expect(res.body.expiresAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00$/);
    expect(Date.parse(res.body.expiresAt) - Date.now()).to.be.within(3500_000, 3600_000);
    expect(keyOf(res.body.url)).to.contain(`walk/share-cards/${mainWalk.id}/`);
    mainCard = res.body;
    expect(await drawn()).to.equal(before + 1);

    const { contentType, bytes } = await download(res.body.url);
    expect(contentType).to.equal('image/png');
    const meta = await sharp(bytes).metadata();
    expect(meta).to.include({ format: 'png', width: 1080, height: 1080 });
    const stats = await sharp(bytes).stats();
    expect(Math.min(...stats.channels.slice(0, 3).map((c) => c.stdev)), 'not a blank picture').to.be.above(20);
    const px = await pixels(bytes);
    expect(px.count(rgb(SHARE_CARD_COLOURS.route)), 'the route\'s line').to.be.above(2000);
    expect(px.count(rgb(SHARE_CARD_COLOURS.start)), 'the start marker').to.be.above(300);
    expect(px.count(rgb(SHARE_CARD_COLOURS.text)), 'the distance in large type (and the end marker)').to.be.above(3000);
    const centre = px.at(PHOTO_CIRCLE.cx, PHOTO_CIRCLE.cy);
    expect(Math.abs(centre[0] - 30) + Math.abs(centre[1] - 80) + Math.abs(centre[2] - 210), `the pet's photo at the circle's centre, got ${centre}`).to.be.below(30);
    // Outside the circle, in its bounding box's corner: the background, not the photo.
    const corner = px.at(PHOTO_CIRCLE.cx - PHOTO_CIRCLE.r + 8, PHOTO_CIRCLE.cy - PHOTO_CIRCLE.r + 8);
    expect(corner).to.deep.equal(rgb(SHARE_CARD_COLOURS.background));
  });

  it('reuses the stored card when asked again: the same object, not drawn again', async () => {
    const before = await drawn();
    const again = await askCard(owner, mainWalk.id);
    expect(again.status).to.equal(200);
    expect(keyOf(again.body.url)).to.equal(keyOf(mainCard.url));
    expect(await drawn()).to.equal(before);
    expect(objectsOf(mainWalk.id)).to.have.length(1);
  });

  it('draws once and stores one object when two requests for a new card race', async () => {
    const w = await postWalk(owner, { seed: 41 });
    const before = await drawn();
    const [a, b] = await Promise.all([askCard(owner, w.id), askCard(owner, w.id)]);
    expect([a.status, b.status].sort()).to.deep.equal([200, 201]);
    expect(keyOf(a.body.url)).to.equal(keyOf(b.body.url));
    expect(await drawn()).to.equal(before + 1);
    expect(objectsOf(w.id)).to.have.length(1);
    const [{ n }] = await node.ctx.db.orm.em.fork().execute<{ n: string }[]>('select count(*) as n from walk_share_cards where walk_id = ?', [w.id]);
    expect(n).to.equal('1');
  });

  it('stores one object when two nodes are asked for the same new card at once', async () => {
    const second = await startNode({ STORAGE_LOCAL_DIR: dir });
    const w = await postWalk(owner, { seed: 43 });
    const [a, b] = await Promise.all([askCard(owner, w.id), request(second, 'POST', `/walks/${w.id}/share-card`, { token: owner.accessToken })]);
    expect([a.status, b.status].every((s) => s === 200 || s === 201), `${a.status} ${b.status}`).to.equal(true);
    // Each node may draw it (they share no memory), but the version's key is the same: one object.
    expect(keyOf(a.body.url)).to.equal(keyOf(b.body.url));
    expect(objectsOf(w.id)).to.have.length(1);
    expect((await download(b.body.url)).bytes.equals((await download(a.body.url)).bytes)).to.equal(true);
    // Asked again on either node: reused.
    expect((await request(second, 'POST', `/walks/${w.id}/share-card`, { token: owner.accessToken })).status).to.equal(200);
  });

  it('draws again when the pet\'s photo changes, and deletes the old card', async () => {
    await setPetPhoto(owner, petId, await solidPhoto(220, 40, 40));
    const res = await askCard(owner, mainWalk.id);
    expect(res.status).to.equal(201);
    expect(keyOf(res.body.url)).to.not.equal(keyOf(mainCard.url));
    const centre = (await pixels((await download(res.body.url)).bytes)).at(PHOTO_CIRCLE.cx, PHOTO_CIRCLE.cy);
    expect(Math.abs(centre[0] - 220) + Math.abs(centre[1] - 40) + Math.abs(centre[2] - 40), `the new photo, got ${centre}`).to.be.below(30);
    expect(objectsOf(mainWalk.id)).to.have.length(1);
    const old = new URL(mainCard.url);
    expect((await fetch(`${node.url}${old.pathname}${old.search}`)).status, 'the old card is gone').to.equal(404);
  });

  it('shows only the route others see: cut at the home zones, and no line at all when the whole walk is inside one', async () => {
    const walker = await newUser(node);
    const viewer = await newUser(node);
    const points = walk({ distanceM: 2500, speedKmh: 5, seed: 57, t0: T0 });
    const home = { lat: points[0].lat, lng: points[0].lng, radiusM: 150 };
    expect((await request(node, 'PUT', '/walk/profile', { token: walker.accessToken, body: { homeZones: [home] } })).status).to.equal(200);
    const w = (await request(node, 'POST', '/walks', { token: walker.accessToken, body: { clientWalkId: 'homebound', points } })).body;
    const theirs = (await request(node, 'GET', `/walks/${w.id}`, { token: viewer.accessToken })).body;
    expect(theirs.routeTrimmed).to.equal(true);
    const res = await askCard(walker, w.id);
    expect(res.status).to.equal(201);
    const card = (await download(res.body.url)).bytes;
    // The card is exactly the drawing of what others see, and not the drawing of the whole route.
    const numbers = { distanceM: w.distanceM, durationS: w.durationS, localDate: w.localDate };
    const othersView = Buffer.from((await renderShareCard({ route: theirs.route.coordinates, ...numbers })).image);
    const wholeRoute = Buffer.from((await renderShareCard({ route: w.route.coordinates, ...numbers })).image);
    expect(card.equals(othersView), 'the card draws the route others see').to.equal(true);
    expect(card.equals(wholeRoute), 'the part inside the home zone is left out').to.equal(false);

    // A zone that holds the whole walk: nothing of the route is left to show; the card still has the numbers.
    expect((await request(node, 'PUT', '/walk/profile', { token: walker.accessToken, body: { homeZones: [{ ...home, radiusM: 2000 }] } })).status).to.equal(200);
    expect((await request(node, 'GET', `/walks/${w.id}`, { token: viewer.accessToken })).body.route.coordinates).to.deep.equal([]);
    const hidden = await askCard(walker, w.id);
    expect(hidden.status, 'a new version: drawn again').to.equal(201);
    expect(keyOf(hidden.body.url)).to.not.equal(keyOf(res.body.url));
    const px = await pixels((await download(hidden.body.url)).bytes);
    expect(px.count(rgb(SHARE_CARD_COLOURS.route)), 'no line').to.equal(0);
    expect(px.count(rgb(SHARE_CARD_COLOURS.start)), 'no markers').to.equal(0);
    expect(px.count(rgb(SHARE_CARD_COLOURS.text)), 'the distance is still there').to.be.above(3000);
    expect(objectsOf(w.id)).to.have.length(1);
  });

  it('answers 404 to anyone but the owner, 409 for a flagged walk, 400 for a bad id, 401 without a token', async () => {
    const stranger = await newUser(node);
    const other = await askCard(stranger, mainWalk.id);
    expect(other.status).to.equal(404);
    expect((await askCard(owner, '00000000-0000-4000-8000-000000000000')).status).to.equal(404);
    const bad = await askCard(owner, 'not-a-walk');
    expect(bad.status).to.equal(400);
    expect(bad.body.errors[0].field).to.equal('id');
    expect((await request(node, 'POST', `/walks/${mainWalk.id}/share-card`)).status).to.equal(401);
    const car = await postWalk(owner, { seed: 5, distanceM: 4000, speedKmh: 40 });
    expect(car.trusted).to.equal(false);
    const flagged = await askCard(owner, car.id);
    expect(flagged.status).to.equal(409);
    expect(flagged.body.code).to.equal('walk_not_trusted');
    expect(objectsOf(car.id)).to.have.length(0);
  });
});
