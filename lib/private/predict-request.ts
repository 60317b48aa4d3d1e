/**
 * Bounds of a prediction request body (`POST /predict/{model}`), enforced by API Gateway's request validation (the
 * schema `InferenceGateway` generates) and by the gateway's runtime: defined once, in the runtime's pure core.
 */
export { PREDICT_REQUEST_LIMITS } from '../../runtime/core/predict-request';
