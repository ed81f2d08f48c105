/**
 * The process signals every Floodgate process answers the same way, the single process, the
 * primary of a worker group and each worker: SIGTERM and SIGINT stop (once), SIGHUP reloads where
 * `reload` is given and is otherwise ignored, so a SIGHUP sent to a whole process group does not
 * end a worker (Node's default for SIGHUP is to exit). Returns a function that removes the handlers.
 */
export function onSignals(handlers: { stop: () => void; reload?: () => void }): () => void {
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    handlers.stop();
  };
  const reload = handlers.reload ?? (() => {});
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', reload);
  return () => {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', reload);
  };
}
