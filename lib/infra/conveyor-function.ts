/**
 * ConveyorFunction: a handler from `handlers/` as a Lambda function with everything a production
 * function needs — its own log group with retention, its own role holding only the statements it
 * is given (plus writing its own logs and X-Ray traces), Node 24 on arm64, bundled by local esbuild.
 * The intake and every stage are built with it, so they share one set of conventions.
 */
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { FUNCTION_RUNTIME_ENVIRONMENT, HANDLERS_DIR, functionDefaults, logGroupDefaults } from './defaults.ts';

export interface ConveyorFunctionProps {
  /** Handler module under `handlersDir`, without extension (e.g. `picking`). */
  readonly handler: string;
  /** Shown in the Lambda console. */
  readonly description: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** The function's configuration (see lib/runtime/environment.ts). */
  readonly environment: Readonly<Record<string, string>>;
  /** Retention of the function's log group, in days (one of CloudWatch's periods). */
  readonly logRetentionDays: number;
  /**
   * The function's permissions beyond logging and tracing. They become an inline policy of its
   * own role; AWS managed policies are never attached.
   */
  readonly statements: readonly iam.PolicyStatement[];
  /**
   * Directory holding the handler modules.
   * @default the project's `handlers/`
   */
  readonly handlersDir?: string;
}

export class ConveyorFunction extends Construct {
  public readonly logGroup: logs.LogGroup;
  /**
   * The function's role. It is handed to Lambda closed for edits, so grants made through the
   * function (`queue.grantSendMessages(fn)`, the event source's automatic grant) add nothing:
   * what the function may do is exactly `statements` plus logs and X-Ray. To extend it on
   * purpose, call `role.addToPolicy(...)`.
   */
  public readonly role: iam.Role;
  public readonly function: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: ConveyorFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', logGroupDefaults(props.logRetentionDays));

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description}: least-privilege execution role`,
      inlinePolicies: {
        Access: new iam.PolicyDocument({
          statements: [
            ...props.statements,
            new iam.PolicyStatement({
              sid: 'WriteOwnLogs',
              actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              resources: [this.logGroup.logGroupArn],
            }),
            new iam.PolicyStatement({
              sid: 'WriteTraces',
              // X-Ray's write APIs have no resource-level permissions: '*' is the only valid resource.
              actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
              resources: ['*'],
            }),
          ],
        }),
      },
    });

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      ...functionDefaults(),
      entry: path.join(props.handlersDir ?? HANDLERS_DIR, `${props.handler}.ts`),
      handler: 'handler',
      description: props.description,
      memorySize: props.memoryMb,
      timeout: Duration.seconds(props.timeoutSeconds),
      environment: { ...FUNCTION_RUNTIME_ENVIRONMENT, ...props.environment },
      logGroup: this.logGroup,
      role: this.role.withoutPolicyUpdates(),
    });
  }
}
