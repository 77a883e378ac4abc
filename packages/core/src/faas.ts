/**
 * The OpenFaaS handler contract, as in the official node22 template: a function is one
 * `handler(event, context)`. The template's wrapper (templates/node22-ts) and the local gateway
 * (local/) both host handlers through exactly this contract.
 */
export interface FunctionEvent {
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  method: string;
  query: Record<string, unknown>;
  path: string;
}

export interface FunctionContext {
  status(code: number): FunctionContext;
  status(): number;
  headers(value: Record<string, string>): FunctionContext;
  headers(): Record<string, string>;
  succeed(value: unknown): void;
  fail(value: unknown): void;
}

export type Handler = (event: FunctionEvent, context: FunctionContext) => Promise<unknown>;
