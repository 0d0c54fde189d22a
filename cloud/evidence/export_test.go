package evidence

import "context"

// CompleteOnly does the first half of a commit of staging area id: it
// completes the multipart upload and stops, as a collector that crashed
// before dropping the area would.
func (s *S3) CompleteOnly(ctx context.Context, id string) (Object, error) {
	a, err := s.load(ctx, id)
	if err != nil {
		return Object{}, err
	}
	return s.complete(ctx, a, a.sum, a.size)
}
