// One parser for Go durations: the wrapper's (it reads healthcheck_interval), used here too.
export { parseDuration } from '../../../templates/node22-ts/duration';
