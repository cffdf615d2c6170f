/**
 * Issue 5's storage refusals on the test bed, DRBD 8.4 (issue 15.1): the same
 * suite (refusals-suite.ts) on two nodes whose DRBD stand-in plays 8.4.11, so
 * that drbd-utils' drbdadm-84 and drbdsetup-84 command lines run under the tool.
 */
import { describeRefusals } from './refusals-suite.js';

describeRefusals('8.4');
