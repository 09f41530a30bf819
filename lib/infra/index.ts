/** Conveyor's CDK constructs: the public surface of lib/infra. */
export { Conveyor, type ConveyorProps } from './conveyor.ts';
export { ConveyorStack, type ConveyorStackProps } from './conveyor-stack.ts';
export { PipelineStage, type PipelineStageProps } from './stage.ts';
export { OrderApi, type OrderApiProps } from './order-api.ts';
export { StatusTable, type StatusTableProps } from './status-table.ts';
export { ConveyorFunction, type ConveyorFunctionProps } from './conveyor-function.ts';
export { Monitoring, type MonitoringProps, type StageAlarmSet, alarmsOf, stageAlarmName } from './monitoring.ts';
export { createSavedQueries, type SavedQueries } from './queries.ts';
export { STATUS_TABLE_ACTIONS } from './permissions.ts';
export { orderRequestModel } from './request-model.ts';
export { ConveyorDashboard, type ConveyorDashboardProps } from './dashboard.ts';
export { attachNag, addNagChecks, acknowledgeNagFindings, NAG_REASONS } from './nag.ts';
export * from './outputs.ts';
