/** Issue 5's storage refusals on the test bed, DRBD 9 (the suite: refusals-suite.ts). */
import { describeRefusals } from './refusals-suite.js';

describeRefusals('9');
