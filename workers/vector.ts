// Exact cosine top-k over the candidate rows of an embedding matrix. Both a Piscina task file and a
// plain module (the tests compare it with a brute-force reference).
//
// The matrix is row-major float32 and usually lives in a SharedArrayBuffer that the caller keeps
// between queries, so a query posts only the candidate row numbers and the query vector, never the
// vectors themselves. Ties are broken by the lower row, so equal scores come back in a stable order.

export type TopKInput = {
  matrix: Float32Array;
  dimensions: number;
  // Which rows to score; all rows when omitted.
  rows?: Int32Array;
  query: Float32Array | number[];
  k: number;
};

export type TopKResult = { rows: number[]; scores: number[] };

export function topKCosine(input: TopKInput): TopKResult {
  const { matrix, dimensions, query } = input;
  const k = Math.max(0, Math.floor(input.k));
  const total = Math.floor(matrix.length / dimensions);
  const count = input.rows ? input.rows.length : total;
  if (k === 0 || count === 0 || query.length !== dimensions) return { rows: [], scores: [] };
  let qNorm = 0;
  for (let j = 0; j < dimensions; j++) qNorm += query[j] * query[j];
  qNorm = Math.sqrt(qNorm);
  // A small sorted buffer beats sorting every score while k is far below the candidate count.
  const bestRows: number[] = [];
  const bestScores: number[] = [];
  for (let i = 0; i < count; i++) {
    const row = input.rows ? input.rows[i] : i;
    if (row < 0 || row >= total) continue;
    const base = row * dimensions;
    let dot = 0;
    let norm = 0;
    for (let j = 0; j < dimensions; j++) {
      const v = matrix[base + j];
      dot += v * query[j];
      norm += v * v;
    }
    // A zero vector has no direction: it matches nothing rather than dividing by zero.
    const score = norm === 0 || qNorm === 0 ? 0 : dot / (Math.sqrt(norm) * qNorm);
    if (bestRows.length === k && !better(score, row, bestScores[k - 1], bestRows[k - 1])) continue;
    let at = bestRows.length === k ? k - 1 : bestRows.length;
    while (at > 0 && better(score, row, bestScores[at - 1], bestRows[at - 1])) {
      bestScores[at] = bestScores[at - 1];
      bestRows[at] = bestRows[at - 1];
      at--;
    }
    bestScores[at] = score;
    bestRows[at] = row;
  }
  return { rows: bestRows, scores: bestScores };
}

function better(score: number, row: number, otherScore: number, otherRow: number): boolean {
  return score > otherScore || (score === otherScore && row < otherRow);
}

// Cosine similarity of two vectors (0 when either is all zeros or their lengths differ).
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) return 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}
