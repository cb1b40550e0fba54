-- Reserved for the phone verification codes (issue 20), which land from
-- another branch: this placeholder keeps the numbering without gaps on
-- this branch and is replaced by that migration when the branches merge.
SELECT 1;
