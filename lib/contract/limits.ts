/**
 * Limits an operator meets in the cloud and locally alike, and the service limits Conveyor is
 * sized against: part of the contract, defined with the topology they bound (lib/topology/limits.ts).
 */
export {
  API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS,
  MAX_CONCURRENCY_RANGE,
  MAX_STAGES_PER_STACK,
  MAX_WAREHOUSES_PER_STACK,
} from '../topology/limits.ts';
