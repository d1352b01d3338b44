//go:build edgecam_pionnack

package whep

import (
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
)

// nackFactory is pion's NACK responder: see nack_own.go.
func nackFactory() (interceptor.Factory, error) {
	return nack.NewResponderInterceptor(nack.ResponderSize(nackHistory))
}
