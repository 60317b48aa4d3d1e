/**
 * Node test environment whose typed arrays are the outer realm's. Jest runs each test file in its own vm realm;
 * onnxruntime-node checks tensor data with `instanceof Float32Array` against the outer realm's constructors and
 * rejects the realm's own ("float32 tensor's data must be type of Float32Array").
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Buffer', 'Uint8Array', 'Uint8ClampedArray', 'Int8Array',
  'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class SharedTypedArrayEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedTypedArrayEnvironment;
