/** Typed search attribute keys, set on every start so the Web UI can list a workspace's history. */
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';

export const WorkspaceIdKey = defineSearchAttributeKey('WorkspaceId', SearchAttributeType.KEYWORD);
export const DropletIdKey = defineSearchAttributeKey('DropletId', SearchAttributeType.KEYWORD);
export const OperationKey = defineSearchAttributeKey('Operation', SearchAttributeType.KEYWORD);
export const ReasonKey = defineSearchAttributeKey('Reason', SearchAttributeType.KEYWORD);
export const RolloutIdKey = defineSearchAttributeKey('RolloutId', SearchAttributeType.KEYWORD);

export function searchAttributes(attrs: {
  operation: string;
  workspaceId?: string;
  dropletId?: number;
  reason?: string;
  rolloutId?: string;
}): SearchAttributePair[] {
  const pairs: SearchAttributePair[] = [{ key: OperationKey, value: attrs.operation }];
  if (attrs.workspaceId) pairs.push({ key: WorkspaceIdKey, value: attrs.workspaceId });
  if (attrs.dropletId !== undefined) pairs.push({ key: DropletIdKey, value: String(attrs.dropletId) });
  if (attrs.reason) pairs.push({ key: ReasonKey, value: attrs.reason });
  if (attrs.rolloutId) pairs.push({ key: RolloutIdKey, value: attrs.rolloutId });
  return pairs;
}
