// `npm run ingest -- <file.jsonl|file.md|dir> […]`: validates every document first (problems are
// printed as file:line and nothing is ingested), then ingests them one by one: chunked, long
// chunks summarised, embedded, stored; unchanged documents are skipped. A progress bar on a
// terminal, one line per document otherwise. Exits 1 if anything failed. It runs on the server's
// own composition (server/command.ts), so it uses the knowledge service the API uses.
import type { ModuleCommand } from '../../server/module.ts';
import type { IngestedDocument, KnowledgeService } from '../../services/coach/knowledge.ts';
import { listKnowledgeFiles, readKnowledgeFiles } from '../../services/coach/knowledgeFiles.ts';

export const ingestCommand: ModuleCommand<{ knowledge: KnowledgeService; offlineLlm: boolean }> = {
  summary: 'Ingest knowledge files (.jsonl, .md, or directories of them) into the coach knowledge base',
  run: async ({ knowledge, offlineLlm }, targets, { signal }) => {
    if (targets.length === 0) {
      process.stderr.write('usage: npm run ingest -- <file.jsonl|file.md|directory> [...]\n');
      return 64; // EX_USAGE
    }
    const files: string[] = [];
    for (const t of targets) {
      try {
        files.push(...listKnowledgeFiles(t));
      } catch {
        process.stderr.write(`${t}: no such file or directory\n`);
        return 66; // EX_NOINPUT
      }
    }
    const { documents, problems } = readKnowledgeFiles(files);
    if (problems.length > 0) {
      for (const p of problems) process.stderr.write(`${p.file}:${p.line}: ${p.message}\n`);
      process.stderr.write(`${problems.length} problem(s); nothing was ingested\n`);
      return 1;
    }
    if (documents.length === 0) {
      process.stderr.write(`no documents found in ${targets.join(', ')} (.jsonl and .md files are read)\n`);
      return 1;
    }
    const progress = createProgress(documents.length, process.stderr);
    const counts = { created: 0, updated: 0, unchanged: 0, failed: 0 };
    let costUsd = 0;
    for (const [i, source] of documents.entries()) {
      const where = `${source.file}:${source.line}`;
      try {
        const report = await knowledge.ingest([source.document], { signal });
        const done: IngestedDocument = report.documents[0];
        costUsd += report.costUsd;
        counts[done.status]++;
        progress.tick(i + 1, done.title, `${done.status.padEnd(9)} ${where} ${done.title} (${done.chunks} chunks${done.summarizedChunks ? `, ${done.summarizedChunks} summarised` : ''})`);
      } catch (err) {
        counts.failed++;
        progress.fail(`${where}: ${(err as Error).message}`);
        if (signal.aborted) break;
      }
    }
    progress.end();
    process.stderr.write(`created ${counts.created}, updated ${counts.updated}, unchanged ${counts.unchanged}, failed ${counts.failed}; LLM cost $${costUsd.toFixed(6)}${offlineLlm ? ' (offline LLM driver)' : ''}\n`);
    return counts.failed > 0 ? 1 : 0;
  },
};

// A one-line bar redrawn in place on a terminal; plain lines otherwise (CI logs, pipes).
function createProgress(total: number, out: NodeJS.WriteStream) {
  const tty = Boolean(out.isTTY);
  const started = Date.now();
  let last = 0;
  const draw = (done: number, label: string) => {
    const width = Math.max(10, Math.min(30, (out.columns ?? 80) - 60));
    const filled = Math.round((done / total) * width);
    const eta = done > 0 ? Math.round(((Date.now() - started) / done) * (total - done) / 1000) : 0;
    const text = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} eta ${eta}s ${label}`;
    out.write(`\r\x1b[2K${text.slice(0, Math.max(20, (out.columns ?? 120) - 1))}`);
  };
  return {
    tick(done: number, title: string, line: string) {
      last = done;
      if (tty) draw(done, title);
      else out.write(`[${done}/${total}] ${line}\n`);
    },
    fail(line: string) {
      if (tty) out.write('\r\x1b[2K');
      out.write(`error ${line}\n`);
      if (tty) draw(last, '');
    },
    end() {
      if (tty) out.write('\n');
    },
  };
}
