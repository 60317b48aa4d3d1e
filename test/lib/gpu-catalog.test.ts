/**
 * The GPU catalog read by both instance-type classes: EC2 names (`GpuInstanceType`, node groups) and SageMaker names
 * (`InferenceInstanceType`, endpoints) agree on what every catalogued size carries.
 */
import { GpuInstanceType } from '../../lib/compute/gpu-instance-type';
import { NVIDIA_GPU_FAMILIES } from '../../lib/private/gpu-catalog';
import { InferenceInstanceType } from '../../lib/serving/instance-type';

const SIZES = Object.entries(NVIDIA_GPU_FAMILIES).flatMap(([family, facts]) =>
  [...new Set([...Object.keys(facts.vcpusBySize), ...Object.keys(facts.gpusBySize)])].map((size) => `${family}.${size}`));

test.each(SIZES)('%s: the EC2 and the SageMaker type agree on GPUs and NVMe instance storage', (name) => {
  const ec2 = GpuInstanceType.of(name);
  const sagemaker = InferenceInstanceType.of(`ml.${name}`);
  expect(sagemaker.gpu).toBe(true);
  expect(sagemaker.gpuCount).toBe(ec2.gpuCount);
  expect(sagemaker.instanceStorage).toBe(ec2.instanceStorage !== undefined);
});
