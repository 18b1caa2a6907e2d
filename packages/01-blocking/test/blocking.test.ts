/**
 * 01-blocking through the compiled server (`node dist/main.js`). Everything it promises is the
 * shared CLI contract; being iterative, it must make a second client wait while a first one
 * stalls, where every other model serves it.
 */
import { describeModelContract } from '@course/testkit/contract';

describeModelContract('01-blocking', [
  { name: 'iterative', args: [], bannerMatch: / model=iterative /, iterative: true },
]);
