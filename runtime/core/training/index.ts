/** The training pipeline's gates (data, model and serving constraints) and the lineage recorded with a model. Pure. */
export * from './checks';
export * from './data-gate';
export * from './model-gate';
export * from './lineage';
