export * from './process';
export * from './mariadb';
export * from './openbao';
export * from './testing';
export * from './datasets';
export * from './journals';
export * from './bundle';
export * from './faas-testing';
