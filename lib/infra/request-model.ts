/**
 * The API Gateway request model of `POST /orders`, generated from the zod schemas the intake
 * validates with (lib/domain/order.ts), so the edge and the handler cannot disagree on what an
 * order is: required fields, types, patterns, lengths, enums, at most 100 items per order and 100
 * orders per bulk request. API Gateway refuses what does not match before any function runs.
 *
 * Bulk requests are checked as an envelope only (`{"orders": [1–100 values]}`): each order in it
 * is judged by the intake on its own, so one bad order is a rejected entry in a 202, as locally —
 * not a 400 for the whole request. What JSON Schema cannot say (distinct SKUs, at most 20
 * metadata keys, carriers serving the address) stays with the intake, which validates everything
 * again (locally there is no API Gateway).
 */
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as z from 'zod/mini';
import { BulkOrderShape, MAX_ORDERS_PER_REQUEST, OrderShape } from '../domain/order.ts';

/**
 * The model's JSON Schema (draft 4, the version API Gateway speaks), in CDK's shape.
 *
 * @example
 * api.addModel('OrderRequestModel', { contentType: 'application/json', schema: orderRequestModel() });
 */
export function orderRequestModel(): apigateway.JsonSchema {
  const generated = z.toJSONSchema(z.union([OrderShape, BulkOrderShape]), {
    target: 'draft-4',
    unrepresentable: 'throw',
  }) as Record<string, unknown>;
  // CDK writes `schema` as `$schema`; every other keyword passes through as generated.
  const { $schema: _draft, ...schema } = generated;
  return {
    ...(schema as apigateway.JsonSchema),
    schema: apigateway.JsonSchemaVersion.DRAFT4,
    title: 'OrderRequest',
    description: `One order {"warehouseId", "items", ...}, or {"orders": [...]} with 1–${MAX_ORDERS_PER_REQUEST} orders`,
  };
}
