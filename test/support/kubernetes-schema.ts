/**
 * Offline validation of Kubernetes manifests against the API schema. No package publishes a 1.28 generation of the
 * schema (what cdk8s-plus-28 targets): kubernetes-models 4.4.2 is generated from 1.27 and 4.5.1 from 1.31, so each
 * manifest is validated against both. A manifest valid in 1.27 and 1.31 is valid in 1.28, the stable APIs we use
 * (apps/v1, v1, policy/v1, autoscaling/v2, scheduling.k8s.io/v1) having neither gained required fields nor lost fields
 * in between. The validators check types, enums and required fields; they let unknown fields through (the API server's
 * strict field validation would not), which is why the charts' typed cdk8s objects, not free-form JSON, write them.
 */

/** A Kubernetes object as synthesized. */
export interface KubernetesManifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  readonly [field: string]: unknown;
}

/** What validation found. */
export interface SchemaReport {
  /** `<schema> <kind>/<name>: <path> <message>` for each violation. */
  readonly problems: string[];
  /** `<apiVersion> <kind>` of objects no schema covers (custom resources such as KEDA's ScaledObject). */
  readonly unchecked: string[];
}

const SCHEMAS = { '1.27': 'kubernetes-models-1.27', '1.31': 'kubernetes-models-1.31' } as const;

type Model = new (data: unknown) => { validate(): void };

function modelClass(pkg: string, apiVersion: string, kind: string): Model | undefined {
  try {
    // Modules by apiVersion: core objects under 'v1', others under '<group>/<version>'.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(`${pkg}/${apiVersion}`) as Record<string, Model>)[kind];
  } catch {
    return undefined;
  }
}

/** Validates `manifests` against the 1.27 and 1.31 schemas. */
export function validateKubernetesManifests(manifests: readonly KubernetesManifest[]): SchemaReport {
  const problems: string[] = [];
  const unchecked: string[] = [];
  for (const manifest of manifests) {
    const id = `${manifest.kind}/${manifest.metadata?.name ?? '?'}`;
    for (const [version, pkg] of Object.entries(SCHEMAS)) {
      const Model = modelClass(pkg, manifest.apiVersion, manifest.kind);
      if (!Model) {
        if (version === '1.27') unchecked.push(`${manifest.apiVersion} ${manifest.kind}`);
        continue;
      }
      try {
        new Model(manifest).validate();
      } catch (error) {
        const errors = (error as { errors?: Array<{ instancePath: string; message: string }> }).errors;
        for (const e of errors ?? [{ instancePath: '', message: (error as Error).message }]) problems.push(`${version} ${id}: ${e.instancePath} ${e.message}`);
      }
    }
  }
  return { problems, unchecked };
}
