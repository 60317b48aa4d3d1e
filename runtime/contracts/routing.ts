/** The routing table's contract: the variable that names the table, for every deployable and tool that reads it. Pure. */

/** Environment variables that name the routing table. */
export const RoutingVariables = {
  /** Name of the routing table, for `npm run route` and for deployables that read the table (the gateway). */
  TABLE_NAME: 'ROUTING_TABLE_NAME',
} as const;
