/**
 * Live view on a TTY (listr2): one line per node showing the step it is on,
 * ticked when the node is done, failed when it failed. A subscriber like the
 * others: it only reads events. Messages are held until the view ends.
 */
import { Listr, type ListrTaskWrapper } from 'listr2';
import type { Emit, RunEvent } from '../run/events.js';
import { escapeDeep } from './escape.js';
import { renderSummary } from './summary.js';

interface NodeView {
  task?: ListrTaskWrapper<unknown, never, never>;
  done: () => void;
  fail: (e: Error) => void;
  index: number;
  total: number;
  changed: number;
  failed?: string;
  finished: Promise<void>;
}

export function liveReporter(o: { write: (s: string) => void; stream: NodeJS.WriteStream }): { emit: Emit; finished: () => Promise<void> } {
  const views = new Map<string, NodeView>();
  const held: string[] = [];
  let running: Promise<unknown> = Promise.resolve();

  const start = (e: Extract<RunEvent, { type: 'run-start' }>) => {
    for (const n of e.nodes) {
      let done!: () => void;
      let fail!: (err: Error) => void;
      const finished = new Promise<void>((res, rej) => {
        done = res;
        fail = rej;
      });
      finished.catch(() => undefined);
      views.set(n, { done, fail, index: 0, total: e.steps.filter((s) => s.targets.includes(n)).length, changed: 0, finished });
    }
    const list = new Listr(
      e.nodes.map((n) => ({
        title: `${n}: waiting`,
        task: async (_ctx: unknown, task: ListrTaskWrapper<unknown, never, never>) => {
          const v = views.get(n)!;
          v.task = task;
          await v.finished;
        },
      })),
      { concurrent: true, exitOnError: false, renderer: 'default', rendererOptions: { collapseErrors: false }, registerSignalListeners: false } as never,
    );
    running = list.run().catch(() => undefined);
  };

  const emit: Emit = (raw) => {
    const e = escapeDeep(raw); // what nodes say is shown, not obeyed (./escape.ts)
    switch (e.type) {
      case 'run-start':
        start(e);
        return;
      case 'message':
        held.push(`${e.level === 'info' ? '' : `${e.level}: `}${e.node ? `${e.node}: ` : ''}${e.text}\n`);
        return;
      case 'step-start': {
        const v = views.get(e.node);
        if (v?.task) v.task.title = `${e.node}: [${v.index + 1}/${v.total}] ${e.title}`;
        return;
      }
      case 'step-result': {
        const v = views.get(e.node);
        if (!v) return;
        v.index++;
        if (e.outcome === 'changed') v.changed++;
        if (e.outcome === 'failed') {
          v.failed = `${e.step}: ${e.message ?? 'failed'}`;
          held.push(`${e.node}: ${e.step}: failed: ${e.message ?? ''}\n`);
        }
        if (v.index >= v.total) {
          if (v.task) v.task.title = `${e.node}: ${v.failed ? `FAILED at ${v.failed}` : `done, ${v.changed} changed`}`;
          if (v.failed) v.fail(new Error(v.failed));
          else v.done();
        }
        return;
      }
      case 'node-failed':
        held.push(`${e.node}: UNREACHABLE: ${e.error}\n`);
        return;
      case 'run-end':
        for (const v of views.values()) {
          if (v.failed) v.fail(new Error(v.failed));
          else v.done();
        }
        void running.then(() => {
          for (const m of held) o.write(m);
          if (Object.keys(e.summary).length > 0) o.write(renderSummary(e.summary, e.outcome, e.durationMs));
        });
        return;
      case 'step-progress': {
        const v = views.get(e.node);
        if (v?.task) v.task.output = `${e.description}${e.progress !== undefined ? ` (${Math.round(e.progress * 100)}%)` : ''}`;
        return;
      }
      case 'node-connected':
      case 'node-reconnect':
      case 'command':
      case 'command-start':
      case 'step-change-start':
        return;
      default: {
        const never: never = e;
        return never;
      }
    }
  };
  return { emit, finished: () => running.then(() => new Promise<void>((r) => setImmediate(r))) };
}
