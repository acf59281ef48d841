import crypto from 'node:crypto';
import { expect } from 'chai';
import { createWorkerPool, type WorkerPool } from '../../workers/pool.ts';
import { topKCosine } from '../../workers/vector.ts';
import type { ApiNode } from '../../server/node.ts';
import { startNode, stopAllNodes, coach } from '../helpers.ts';

// A seeded generator, so a failure reproduces.
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

// The reference: every candidate scored in float64 from the same float32 values, sorted.
function bruteForce(matrix: Float32Array, dims: number, rows: number[], query: Float32Array, k: number) {
  return rows
    .map((row) => {
      let dot = 0;
      let n = 0;
      let q = 0;
      for (let j = 0; j < dims; j++) {
        dot += matrix[row * dims + j] * query[j];
        n += matrix[row * dims + j] ** 2;
        q += query[j] ** 2;
      }
      return { row, score: n === 0 || q === 0 ? 0 : dot / Math.sqrt(n * q) };
    })
    .sort((a, b) => b.score - a.score || a.row - b.row)
    .slice(0, k);
}

describe('coach knowledge: exact cosine top-k in the worker', () => {
  let pool: WorkerPool;
  before(() => {
    pool = createWorkerPool({ size: 1 });
  });
  after(() => pool.close());

  it('equals a brute-force reference on random vectors, over all rows and over a filtered subset', async () => {
    const rnd = random(42);
    for (const [count, dims, k] of [[500, 64, 5], [2000, 16, 10], [37, 8, 50], [1, 3, 5]] as const) {
      const matrix = new Float32Array(new SharedArrayBuffer(count * dims * 4));
      for (let i = 0; i < matrix.length; i++) matrix[i] = rnd();
      const query = Float32Array.from({ length: dims }, rnd);
      const all = Array.from({ length: count }, (_, i) => i);
      const subset = all.filter((i) => i % 3 !== 1);
      for (const rows of [all, subset]) {
        const expected = bruteForce(matrix, dims, rows, query, k);
        const got = await pool.topKCosine({ matrix, dimensions: dims, rows: Int32Array.from(rows), query, k });
        expect(got.rows, `${count}x${dims} k=${k}`).to.deep.equal(expected.map((e) => e.row));
        got.scores.forEach((s, i) => expect(s).to.be.closeTo(expected[i].score, 1e-9));
        expect(got.rows).to.have.length(Math.min(k, rows.length));
      }
    }
  });

  it('orders ties by row, scores a zero vector 0, and returns nothing for a mismatched query or k = 0', () => {
    const matrix = Float32Array.from([1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0]);
    const got = topKCosine({ matrix, dimensions: 3, query: [1, 0, 0], k: 4 });
    expect(got.rows).to.deep.equal([0, 2, 1, 3]);
    expect(got.scores).to.deep.equal([1, 1, 0, 0]);
    expect(topKCosine({ matrix, dimensions: 3, query: [1, 0], k: 4 })).to.deep.equal({ rows: [], scores: [] });
    expect(topKCosine({ matrix, dimensions: 3, query: [1, 0, 0], k: 0 })).to.deep.equal({ rows: [], scores: [] });
  });
});

describe('coach knowledge: the exact VectorIndex keeps up with ingests', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode({ LLM_OFFLINE: 'true' });
  });
  after(stopAllNodes);

  it('sees documents ingested after its vectors were cached, and forgets replaced chunks', async () => {
    const kb = coach(node).knowledge;
    const game = `t${crypto.randomBytes(4).toString('hex')}`;
    await kb.ingest([{ game, title: '드래곤', content: '드래곤은 바텀 라인을 밀고 나서 챙깁니다.' }]);
    const first = await kb.retrieve({ game, query: '바론 시야' });
    expect(first.passages.map((p) => p.title)).to.deep.equal(['드래곤']);
    await kb.ingest([{ game, title: '바론', content: '바론 전에는 시야를 먼저 장악합니다.' }]);
    const second = await kb.retrieve({ game, query: '바론 시야' });
    expect(second.passages.map((p) => p.title)).to.deep.equal(['바론', '드래곤']);
    expect(second.kbVersion).to.equal(first.kbVersion + 1);
    await kb.ingest([{ game, title: '바론', content: '바론 둥지는 강 위쪽에 있습니다.' }]);
    const third = await kb.retrieve({ game, query: '바론 둥지' });
    expect(third.passages[0].text).to.equal('바론 둥지는 강 위쪽에 있습니다.');
    expect(third.passages).to.have.length(2);
  });
});
