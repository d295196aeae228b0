/**
 * Tags every resource carries: the service (the same tag key the AMI pipeline writes, so one
 * filter finds images, launch templates and instances alike), the stack and the component.
 */
import { AMI_TAGS, SERVICE_NAME } from '../server/contract';
import type { StackConfig } from './config';

/** Tag key naming the stack a resource belongs to. */
export const STACK_TAG = `${SERVICE_NAME}:stack`;
/** Tag key naming the component that declared a resource. */
export const COMPONENT_TAG = `${SERVICE_NAME}:component`;

/** The tags of a resource declared by `component` in this stack. */
export function tagsFor(config: StackConfig, component: string): Record<string, string> {
  return {
    [AMI_TAGS.service]: SERVICE_NAME,
    [STACK_TAG]: config.stack,
    [COMPONENT_TAG]: component,
  };
}

/** A resource name unique to the stack, for AWS names that must be unique in a region. */
export function physicalName(config: StackConfig, suffix: string): string {
  return `${SERVICE_NAME}-${config.stack}-${suffix}`;
}
