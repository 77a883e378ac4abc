/** Human-readable progress of the local stack (stderr; stdout is kept for what scripts read). */
export type Progress = (message: string) => void;

export const stderrProgress: Progress = (message) => process.stderr.write(`[stack] ${message}\n`);

export const silentProgress: Progress = () => {};
