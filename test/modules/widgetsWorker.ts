// The test module's worker task: runs on the shared Piscina pool, off the event loop.
export function countLetters(input: { text: string }): { letters: number } {
  return { letters: [...input.text].filter((c) => /\p{L}/u.test(c)).length };
}
