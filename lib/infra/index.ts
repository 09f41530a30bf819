/** Conveyor's CDK constructs: the public surface of lib/infra. */
export { ConveyorStack, type ConveyorStackProps } from './conveyor-stack.ts';
export { PipelineStage, type PipelineStageProps } from './stage.ts';
export { OrderApi, type OrderApiProps } from './order-api.ts';
export { StatusTable, type StatusTableProps } from './status-table.ts';
export { ConveyorFunction, type ConveyorFunctionProps } from './conveyor-function.ts';
export {
  Monitoring,
  type MonitoringProps,
  type StageAlarmSet,
  type ApiAlarmSettings,
  API_ALARM_DEFAULTS,
  RUNBOOK,
  STAGE_ALARM_KINDS,
  type StageAlarmKind,
  LOG_MESSAGES,
  stageAlarmName,
} from './monitoring.ts';
export { ConveyorDashboard, type ConveyorDashboardProps } from './dashboard.ts';
export { attachNag, addNagChecks, acknowledgeNagFindings, NAG_REASONS } from './nag.ts';
export * from './outputs.ts';
