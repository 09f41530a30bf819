/**
 * Secure, production defaults for every Conveyor construct, in one place (as AWS Solutions
 * Constructs keep theirs in `core/lib/*-defaults.ts`). Constructs spread these and add only what
 * the topology decides; nothing here is copied into a construct.
 */
import { fileURLToPath } from 'node:url';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { HANDLER_BUNDLE } from '../build/handler-bundle.ts';

/** The repository root: bundling resolves handlers and the lock file from here, whatever the cwd. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Handler modules: `handlers/<name>.ts`, each exporting `handler`. */
export { HANDLERS_DIR } from '../build/handler-bundle.ts';
export const LOCK_FILE = fileURLToPath(new URL('../../package-lock.json', import.meta.url));

/**
 * A deployment's name: the prefix of its alarm, dashboard, query and API names, and its service
 * name — Powertools' POWERTOOLS_SERVICE_NAME: the `service` key of every log line and the `service`
 * dimension of every Conveyor metric. The name prefix given to the `Conveyor` construct, by default
 * the stack name, so two deployments in one account and region never mix their metrics or dashboards.
 */
export function serviceNameOf(scope: Construct, namePrefix?: string): string {
  return namePrefix ?? Stack.of(scope).stackName;
}

/** Every queue: encrypted at rest with SQS-managed keys (no KMS cost or key policy), TLS only. */
export function queueDefaults(): Pick<sqs.QueueProps, 'encryption' | 'enforceSSL'> {
  return { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true };
}

/**
 * Every function: Node 24 on Graviton (~20 % cheaper per GB-s than x86), active X-Ray tracing,
 * JSON logs (Powertools emits JSON; Lambda's own platform lines become JSON too).
 */
export function functionDefaults(): Pick<
  nodejs.NodejsFunctionProps,
  | 'runtime'
  | 'architecture'
  | 'tracing'
  | 'loggingFormat'
  | 'applicationLogLevelV2'
  | 'systemLogLevelV2'
  | 'projectRoot'
  | 'depsLockFilePath'
  | 'bundling'
> {
  return {
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    tracing: lambda.Tracing.ACTIVE,
    loggingFormat: lambda.LoggingFormat.JSON,
    applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
    systemLogLevelV2: lambda.SystemLogLevel.INFO,
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: LOCK_FILE,
    bundling: bundlingDefaults(),
  };
}

/** Local esbuild (never Docker), with the bundle options the local runtime uses too (HANDLER_BUNDLE). */
export function bundlingDefaults(): nodejs.BundlingOptions {
  return {
    format: nodejs.OutputFormat.ESM,
    target: HANDLER_BUNDLE.target,
    minify: HANDLER_BUNDLE.minify,
    // Readable stack traces in CloudWatch without shipping the sources.
    sourceMap: HANDLER_BUNDLE.sourcemap,
    sourcesContent: HANDLER_BUNDLE.sourcesContent,
    mainFields: [...HANDLER_BUNDLE.mainFields],
    externalModules: [...HANDLER_BUNDLE.external],
    banner: HANDLER_BUNDLE.banner,
    forceDockerBundling: false,
  };
}

/** Environment every function gets on top of its own: source-mapped stack traces. */
export const FUNCTION_RUNTIME_ENVIRONMENT: Readonly<Record<string, string>> = { NODE_OPTIONS: '--enable-source-maps' };

/** Log groups: an explicit retention (never "forever"), kept when the stack is deleted. */
export function logGroupDefaults(retentionDays: number): Pick<logs.LogGroupProps, 'retention' | 'removalPolicy'> {
  // The topology only accepts CloudWatch's retention periods, which are RetentionDays' values.
  return { retention: retentionDays as logs.RetentionDays, removalPolicy: RemovalPolicy.RETAIN };
}

/**
 * The status table: on-demand (no capacity to manage; the pipeline's load is bursty), point-in-time
 * recovery, encrypted with the AWS-managed key, retained and deletion-protected.
 */
export function tableDefaults(): Pick<
  dynamodb.TableProps,
  'billingMode' | 'pointInTimeRecoverySpecification' | 'encryption' | 'removalPolicy' | 'deletionProtection'
> {
  return {
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    removalPolicy: RemovalPolicy.RETAIN,
    deletionProtection: true,
  };
}

/** The REST API: regional endpoint (clients call it in-region; a regional WAF ACL can attach). */
export function restApiDefaults(): Pick<apigateway.RestApiProps, 'endpointTypes' | 'cloudWatchRole' | 'deploy'> {
  return {
    endpointTypes: [apigateway.EndpointType.REGIONAL],
    // The account-level logging role is managed explicitly by OrderApi (inline policy, retained).
    cloudWatchRole: false,
    deploy: true,
  };
}

/**
 * The API stage: X-Ray tracing, JSON access logs with the standard fields, execution logs at
 * ERROR (INFO would log too much; request/response bodies are never logged: they hold customer data).
 */
export function apiStageDefaults(
  accessLogs: logs.ILogGroup,
): Pick<
  apigateway.StageOptions,
  'tracingEnabled' | 'accessLogDestination' | 'accessLogFormat' | 'loggingLevel' | 'dataTraceEnabled' | 'metricsEnabled'
> {
  return {
    tracingEnabled: true,
    accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
    accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields({
      caller: true,
      httpMethod: true,
      ip: true,
      protocol: true,
      requestTime: true,
      resourcePath: true,
      responseLength: true,
      status: true,
      user: true,
    }),
    loggingLevel: apigateway.MethodLoggingLevel.ERROR,
    dataTraceEnabled: false,
    metricsEnabled: true,
  };
}

/** Lambda proxy integrations: no extra permission for the console's test-invoke. */
export const LAMBDA_INTEGRATION_DEFAULTS: apigateway.LambdaIntegrationOptions = { proxy: true, allowTestInvoke: false };
