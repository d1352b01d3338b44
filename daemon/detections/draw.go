package detections

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"unicode/utf16"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// palette is the page's: a label gets the same color in a snapshot as on
// the live view.
var palette = [...]color.RGBA{
	{0xff, 0x4d, 0x4d, 0xff}, {0x4d, 0xd2, 0xff, 0xff}, {0xff, 0xd2, 0x4d, 0xff}, {0x7d, 0xff, 0x4d, 0xff},
	{0xff, 0x4d, 0xd2, 0xff}, {0x4d, 0x7d, 0xff, 0xff}, {0xff, 0x9f, 0x4d, 0xff}, {0x4d, 0xff, 0xb8, 0xff},
}

// ColorOf is the color the page draws a label in when the model names
// none: the same hash over the label's UTF-16 code units as overlay.js.
func ColorOf(label string) color.RGBA {
	var h int32
	for _, c := range utf16.Encode([]rune(label)) {
		h = h*31 + int32(c)
	}
	a := int64(h)
	if a < 0 {
		a = -a
	}
	return palette[a%int64(len(palette))]
}

// objectColor is an object's own color if it has a valid one.
func objectColor(o Object) color.RGBA {
	var r, g, b uint8
	if len(o.Color) == 7 {
		if _, err := fmt.Sscanf(o.Color, "#%02x%02x%02x", &r, &g, &b); err == nil {
			return color.RGBA{r, g, b, 0xff}
		}
	}
	return ColorOf(o.Label)
}

// Draw burns detections into a picture as the page draws them: each
// object's box, and above it its label and score on the box's color. Lines
// and text grow with the picture so they read the same at any size.
func Draw(img draw.Image, dets []Detection) {
	b := img.Bounds()
	scale := max(1, int(math.Round(float64(b.Dx())/640)))
	for _, d := range dets {
		for _, o := range d.Objects {
			drawObject(img, o, scale)
		}
	}
}

func drawObject(img draw.Image, o Object, scale int) {
	b := img.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	r := image.Rect(
		b.Min.X+int(math.Round(o.Box.X*w)), b.Min.Y+int(math.Round(o.Box.Y*h)),
		b.Min.X+int(math.Round((o.Box.X+o.Box.W)*w)), b.Min.Y+int(math.Round((o.Box.Y+o.Box.H)*h)),
	).Intersect(b)
	if r.Empty() {
		return
	}
	c := image.NewUniform(objectColor(o))
	line := 2 * scale
	for _, edge := range []image.Rectangle{
		{r.Min, image.Pt(r.Max.X, r.Min.Y+line)},
		{image.Pt(r.Min.X, r.Max.Y-line), r.Max},
		{r.Min, image.Pt(r.Min.X+line, r.Max.Y)},
		{image.Pt(r.Max.X-line, r.Min.Y), r.Max},
	} {
		draw.Draw(img, edge.Intersect(r), c, image.Point{}, draw.Src)
	}
	drawLabel(img, fmt.Sprintf("%s %d%%", o.Label, int(math.Round(o.Score*100))), r, c, scale)
}

// drawLabel writes text on a tag of color c above r, or inside it at the
// top when there is no room above, as the page does.
func drawLabel(img draw.Image, text string, r image.Rectangle, c *image.Uniform, scale int) {
	face := basicfont.Face7x13
	const pad, tagH = 3, 16
	tw := font.MeasureString(face, text).Ceil() + 2*pad
	tag := image.NewRGBA(image.Rect(0, 0, tw, tagH))
	draw.Draw(tag, tag.Bounds(), c, image.Point{}, draw.Src)
	(&font.Drawer{Dst: tag, Src: image.Black, Face: face, Dot: fixed.P(pad, tagH-4)}).DrawString(text)

	dst := image.Rect(0, 0, tw*scale, tagH*scale)
	y := r.Min.Y - dst.Dy()
	if y < img.Bounds().Min.Y {
		y = r.Min.Y
	}
	dst = dst.Add(image.Pt(r.Min.X, y))
	xdraw.NearestNeighbor.Scale(img, dst, tag, tag.Bounds(), draw.Src, nil)
}
