/** Human-readable progress of the local stack (stderr; stdout is kept for what scripts read). */
export type Progress = (message: string) => void;

let guarded = false;

export const stderrProgress: Progress = (message) => {
  if (!guarded) {
    guarded = true;
    // Whoever read stderr may be gone (its terminal closed, npm killed): stopping must go on.
    process.stderr.on('error', () => {});
  }
  process.stderr.write(`[stack] ${message}\n`);
};

export const silentProgress: Progress = () => {};
