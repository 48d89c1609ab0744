/** What /healthz and /readyz answer: ok or not, every reason why not, and details. */
export interface HealthReport {
  ok: boolean;
  reasons: string[];
  [detail: string]: unknown;
}
