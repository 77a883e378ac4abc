export * from './ingest';
export * from './caller-auth';
