/**
 * OrderApi: the pipeline's front door. An API Gateway REST API —
 *   POST   /orders            one order or `{"orders": [...]}` → 202
 *   GET    /orders/{orderId}  the order's status and history
 *   DELETE /orders/{orderId}  cancel the order while it is not delivered
 * — proxying to the intake function, which validates, enqueues to the warehouse's first stage and
 * records the order as accepted (or cancels it).
 *
 * Callers must be authorized (IAM SigV4 by default, or an API key with a usage plan); API Gateway
 * validates bodies against the same schema the handler uses, throttles, traces and logs access;
 * its own error responses have the handler's JSON shape `{"error", "details": [{"field", "message"}]}`.
 */
import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { intakeEnvironment } from '../runtime/environment.ts';
import type { Topology } from '../topology/index.ts';
import { ConveyorFunction } from './conveyor-function.ts';
import { STATUS_TABLE_ACTIONS } from './permissions.ts';
import { orderRequestModel } from './request-model.ts';
import {
  LAMBDA_INTEGRATION_DEFAULTS,
  apiStageDefaults,
  logGroupDefaults,
  restApiDefaults,
  serviceNameOf,
} from './defaults.ts';

export interface OrderApiProps {
  /** Authorization, throttling, WAF, intake sizing and log retention come from the topology. */
  readonly topology: Topology;
  /** Where intake records accepted orders and `GET` reads them. */
  readonly statusTable: dynamodb.ITable;
  /** The first stage's queue of every pipeline, keyed by warehouse id. */
  readonly entryQueues: Readonly<Record<string, sqs.IQueue>>;
  /**
   * Set this region's account-wide API Gateway CloudWatch Logs role. API Gateway writes access and
   * execution logs only when the account has one — and there is one per account and region, shared
   * by every API: setting it would replace a role the account already has. So only on request.
   * The role and the setting are retained when the stack is deleted, so other APIs keep logging.
   * @default false
   */
  readonly manageAccountLogRole?: boolean;
  /**
   * Directory holding the handler modules.
   * @default the project's `handlers/`
   */
  readonly handlersDir?: string;
  /**
   * The deployment's name: the API is `<namePrefix>-orders`; the intake's service name.
   * @default the stack name
   */
  readonly namePrefix?: string;
}

/** The API's own error responses, in the handler's shape (see lib/api/http.ts). */
const ERROR_RESPONSE_HEADERS = { 'Cache-Control': "'no-store'", 'X-Content-Type-Options': "'nosniff'" };
// Gateway response templates allow variable substitution only (no VTL, no escaping). Only
// $context.error.messageString is a quoted JSON string; validationErrorString is raw text with quotes
// in it, so it is left out: a body the model refuses gets API Gateway's one-line message, and the
// same body sent to the local runtime gets the intake's per-field details.
const BAD_REQUEST_BODY_TEMPLATE =
  '{"error":"invalid request body","details":[{"field":"body","message":$context.error.messageString}]}';
const GENERIC_ERROR_TEMPLATE = '{"error":$context.error.messageString,"details":[]}';

export class OrderApi extends Construct {
  /** The intake function with its role and log group. */
  public readonly intake: ConveyorFunction;
  public readonly function: lambda.IFunction;
  public readonly accessLogs: logs.LogGroup;
  public readonly api: apigateway.RestApi;
  /** Validates POST bodies against `orderModel` and the `{orderId}` path parameter of GET and DELETE. */
  public readonly requestValidator: apigateway.RequestValidator;
  /** JSON Schema (draft 4) of a `POST /orders` body, generated from lib/domain/order.ts. */
  public readonly orderModel: apigateway.Model;
  public readonly postOrders: apigateway.Method;
  public readonly getOrder: apigateway.Method;
  /** `DELETE /orders/{orderId}`: cancels the order (no body). */
  public readonly cancelOrder: apigateway.Method;
  /** With `api.authorization: "api-key"`: the plan throttling the key, and the key. */
  public readonly usagePlan?: apigateway.UsagePlan;
  public readonly apiKey?: apigateway.IApiKey;
  /** With `manageAccountLogRole`: the role API Gateway logs with, account-wide. */
  public readonly accountLogRole?: iam.Role;
  /** With `api.wafWebAclArn`: the association of the web ACL with the API stage. */
  public readonly webAclAssociation?: wafv2.CfnWebACLAssociation;

  constructor(scope: Construct, id: string, props: OrderApiProps) {
    super(scope, id);
    const { topology } = props;
    this.intake = this.createIntake(props);
    this.function = this.intake.function;

    const accountLogging = (props.manageAccountLogRole ?? false) ? this.configureAccountLogging() : undefined;
    this.accountLogRole = accountLogging?.role;
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', logGroupDefaults(topology.retention.logDays));
    this.api = this.createRestApi(props, this.accessLogs);
    // The stage's logging settings are rejected until the account has a logging role.
    if (accountLogging) this.api.deploymentStage.node.addDependency(accountLogging.account);

    this.requestValidator = this.api.addRequestValidator('RequestValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    this.orderModel = this.api.addModel('OrderRequestModel', {
      contentType: 'application/json',
      modelName: 'OrderRequest',
      description: 'One order, or {"orders": [...]} for bulk intake',
      schema: orderRequestModel(),
    });
    const methods = this.addOrderMethods();
    this.postOrders = methods.post;
    this.getOrder = methods.get;
    this.cancelOrder = methods.cancel;
    this.addErrorResponses();

    const access = this.addClientAccess(topology.api);
    this.usagePlan = access.usagePlan;
    this.apiKey = access.apiKey;
    this.webAclAssociation = access.webAclAssociation;
  }

  /** The intake function: its environment from the topology, its role limited to the first queues and the table. */
  private createIntake(props: OrderApiProps): ConveyorFunction {
    const { topology, statusTable, entryQueues } = props;
    return new ConveyorFunction(this, 'Intake', {
      handler: 'intake',
      description: 'Conveyor order intake (POST /orders, GET and DELETE /orders/{orderId})',
      memoryMb: topology.intake.memoryMb,
      timeoutSeconds: topology.intake.timeoutSeconds,
      logRetentionDays: topology.retention.logDays,
      handlersDir: props.handlersDir,
      environment: intakeEnvironment(
        topology,
        {
          tableName: statusTable.tableName,
          serviceName: serviceNameOf(this, props.namePrefix),
          entryQueueUrls: Object.fromEntries(Object.entries(entryQueues).map(([w, q]) => [w, q.queueUrl])),
        },
        (value) => Stack.of(this).toJsonString(value),
      ),
      statements: [
        new iam.PolicyStatement({
          sid: 'EnqueueToFirstStages',
          actions: ['sqs:SendMessage'],
          resources: Object.values(entryQueues).map((q) => q.queueArn),
        }),
        new iam.PolicyStatement({
          sid: 'RecordAndReadOrderStatus',
          actions: [...STATUS_TABLE_ACTIONS.intake],
          resources: [statusTable.tableArn],
        }),
      ],
    });
  }

  /** The REST API: throttled, access-logged, authorized by IAM or an API key. */
  private createRestApi(props: OrderApiProps, accessLogs: logs.LogGroup): apigateway.RestApi {
    const settings = props.topology.api;
    const api = new apigateway.RestApi(this, 'Api', {
      ...restApiDefaults(),
      restApiName: `${serviceNameOf(this, props.namePrefix)}-orders`,
      description: 'Conveyor: submit orders and read their status',
      deployOptions: {
        ...apiStageDefaults(accessLogs),
        throttlingRateLimit: settings.throttleRateLimit,
        throttlingBurstLimit: settings.throttleBurstLimit,
      },
      defaultMethodOptions:
        settings.authorization === 'api-key'
          ? { authorizationType: apigateway.AuthorizationType.NONE, apiKeyRequired: true }
          : { authorizationType: apigateway.AuthorizationType.IAM },
    });
    // The stack publishes the URL as `ApiUrl`; drop RestApi's own auto-named duplicate output.
    api.node.tryRemoveChild('Endpoint');
    return api;
  }

  /** `POST /orders` against the request model; `GET` and `DELETE /orders/{orderId}`, authorized like the others. */
  private addOrderMethods(): { post: apigateway.Method; get: apigateway.Method; cancel: apigateway.Method } {
    const integration = new apigateway.LambdaIntegration(this.function, LAMBDA_INTEGRATION_DEFAULTS);
    const orders = this.api.root.addResource('orders');
    const post = orders.addMethod('POST', integration, {
      requestValidator: this.requestValidator,
      requestModels: { 'application/json': this.orderModel },
    });
    const order = orders.addResource('{orderId}');
    const byOrderId = {
      requestValidator: this.requestValidator,
      requestParameters: { 'method.request.path.orderId': true },
    };
    return {
      post,
      get: order.addMethod('GET', integration, byOrderId),
      cancel: order.addMethod('DELETE', integration, byOrderId),
    };
  }

  /** With API keys: a usage plan throttling the key, and the key; with a web ACL: its association. */
  private addClientAccess(settings: OrderApiProps['topology']['api']): {
    usagePlan?: apigateway.UsagePlan;
    apiKey?: apigateway.IApiKey;
    webAclAssociation?: wafv2.CfnWebACLAssociation;
  } {
    const access: ReturnType<OrderApi['addClientAccess']> = {};
    if (settings.authorization === 'api-key') {
      access.usagePlan = this.api.addUsagePlan('UsagePlan', {
        description: 'Conveyor order API clients',
        throttle: { rateLimit: settings.throttleRateLimit, burstLimit: settings.throttleBurstLimit },
        apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
      });
      access.apiKey = this.api.addApiKey('ApiKey', { description: 'Conveyor order API key' });
      access.usagePlan.addApiKey(access.apiKey);
    }
    if (settings.wafWebAclArn) {
      access.webAclAssociation = new wafv2.CfnWebACLAssociation(this, 'WebAcl', {
        resourceArn: this.api.deploymentStage.stageArn,
        webAclArn: settings.wafWebAclArn,
      });
    }
    return access;
  }

  /** `POST /orders`, `GET /orders/{orderId}`, `DELETE /orders/{orderId}`. */
  public get methods(): apigateway.Method[] {
    return [this.postOrders, this.getOrder, this.cancelOrder];
  }

  /** API Gateway's own rejections, in the handler's JSON error shape. */
  private addErrorResponses(): void {
    this.api.addGatewayResponse('BadRequestBody', {
      type: apigateway.ResponseType.BAD_REQUEST_BODY,
      statusCode: '400',
      responseHeaders: ERROR_RESPONSE_HEADERS,
      templates: { 'application/json': BAD_REQUEST_BODY_TEMPLATE },
    });
    this.api.addGatewayResponse('Default4xx', {
      type: apigateway.ResponseType.DEFAULT_4XX,
      responseHeaders: ERROR_RESPONSE_HEADERS,
      templates: { 'application/json': GENERIC_ERROR_TEMPLATE },
    });
    this.api.addGatewayResponse('Default5xx', {
      type: apigateway.ResponseType.DEFAULT_5XX,
      responseHeaders: ERROR_RESPONSE_HEADERS,
      templates: { 'application/json': GENERIC_ERROR_TEMPLATE },
    });
  }

  /**
   * API Gateway writes CloudWatch logs through one role per account and region. Its policy mirrors
   * AmazonAPIGatewayPushToCloudWatchLogs, scoped to this account's log groups, as an inline policy.
   */
  private configureAccountLogging(): { role: iam.Role; account: apigateway.CfnAccount } {
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'AccountLogRole', {
      assumedBy: new iam.ServicePrincipal('apigateway.amazonaws.com'),
      description: 'API Gateway (account-wide): write access and execution logs to CloudWatch Logs',
      inlinePolicies: {
        PushToCloudWatchLogs: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: [
                'logs:CreateLogGroup',
                'logs:CreateLogStream',
                'logs:DescribeLogGroups',
                'logs:DescribeLogStreams',
                'logs:PutLogEvents',
                'logs:GetLogEvents',
                'logs:FilterLogEvents',
              ],
              resources: [
                stack.formatArn({
                  service: 'logs',
                  resource: 'log-group',
                  resourceName: '*',
                  arnFormat: ArnFormat.COLON_RESOURCE_NAME,
                }),
              ],
            }),
          ],
        }),
      },
    });
    const account = new apigateway.CfnAccount(this, 'AccountLogging', { cloudWatchRoleArn: role.roleArn });
    // Other APIs in the account log through this setting: never take it away with this stack.
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    return { role, account };
  }
}
