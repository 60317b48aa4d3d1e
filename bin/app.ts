#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildGpuPlatform, buildReferencePlatform } from './platform';

const app = new App();
buildReferencePlatform(app);
buildGpuPlatform(app);
app.synth();
