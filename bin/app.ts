#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildReferencePlatform } from './platform';

const app = new App();
buildReferencePlatform(app);
app.synth();
