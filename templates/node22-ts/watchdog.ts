/**
 * The of-watchdog settings the image sets in its Dockerfile (`ENV`), for the local gateway, which
 * plays the watchdog's part when stack.yml leaves one unset. A test keeps the two in step.
 */
export const WATCHDOG_DEFAULTS = {
  exec_timeout: '10s',
  read_timeout: '15s',
  write_timeout: '15s',
} as const;

/** The wrapper's port inside the image (`upstream_url` of the watchdog). */
export const WRAPPER_PORT = 3000;
