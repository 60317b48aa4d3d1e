/**
 * `npm run synth:k8s`: synthesizes the example GPU inference chart (examples/eks-gpu-inference/k8s-app.ts) to YAML
 * under dist/k8s/, for `kubectl apply -f dist/k8s/` without CDK.
 */
import * as path from 'path';
import * as cdk8s from 'cdk8s';
import { fraudModelChart } from '../examples/eks-gpu-inference/k8s-app';

const outdir = path.join(__dirname, '..', 'dist', 'k8s');
const app = new cdk8s.App({ outdir });
fraudModelChart(app, 'fraud-model', { createNamespace: true }); // `kubectl apply -f` on a clean cluster needs it
app.synth();
console.log(`wrote ${path.relative(process.cwd(), outdir)}/`);
